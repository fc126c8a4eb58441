"""The report of a run: `report.json` (every figure) and `report.html` (the same, with charts)."""

from __future__ import annotations

import json
from html import escape
from pathlib import Path

from .charts import bar_chart, line_chart


def _fmt(value, percent: bool = False, seconds: bool = False) -> str:
    if value is None:
        return "–"
    if percent:
        return f"{value:.1%}"
    if seconds:
        return f"{value:.1f} s"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def charts(report: dict) -> dict[str, str]:
    """The report's charts as SVG documents, by name."""
    out = {}
    intervals = report.get("intervals") or []
    if intervals:
        start = report["config"].get("start_hour", 0) * 3600
        width = report.get("interval_seconds", 3600)
        labels = [f"{int((start + row['start']) // 3600) % 24:02d}:{int((start + row['start']) % 3600 // 60):02d}"
                  for row in intervals]
        per = "hour" if width == 3600 else f"{width / 60:.0f} minutes"
        out["arrivals"] = bar_chart(f"Arrivals and answered calls per {per}", labels,
                                    [("arrivals", [row["arrivals"] for row in intervals]),
                                     ("answered", [row["answered"] for row in intervals]),
                                     ("abandoned", [row["abandoned"] for row in intervals])], "calls")
    series = report.get("queue_length") or []
    if series:
        sampled = report.get("samples") or []
        lines = [("waiting (ledger)", [n for _, n in series])]
        xs = [t / 60 for t, _ in series]
        chart_series = lines
        if sampled:
            # The console's view, resampled onto the ledger's points.
            seen, j = [], 0
            for t, _ in series:
                while j + 1 < len(sampled) and sampled[j + 1]["t"] <= t:
                    j += 1
                seen.append(sampled[j]["waiting_seen"] if sampled[j]["t"] <= t else 0)
            chart_series = lines + [("waiting (console)", seen)]
        out["queue"] = line_chart("Callers waiting over the simulated day", xs, chart_series,
                                  "simulated minutes", "callers", x_format=lambda x: f"{x:.0f}")
    histogram = report.get("wait_histogram")
    if histogram:
        out["waits"] = bar_chart(f"Time in queue ({histogram['width']:.0f} s bins, simulated)",
                                 histogram["labels"], [("answered after", histogram["answered"]),
                                                       ("left the queue after", histogram["left_queue"])],
                                 "calls")
    summary = report["summary"]
    erlang = summary.get("erlang_c") or {}
    sl = summary.get("service_level") or {}
    labels = ["within 15 s", "within 20 s"]
    out["service_level"] = bar_chart(
        "Service level: simulated vs Erlang C", labels,
        [("simulated", [sl.get("15") or 0, sl.get("20") or 0]),
         ("Erlang C", [(erlang.get("service_level") or {}).get("15") or 0,
                       (erlang.get("service_level") or {}).get("20") or 0])],
        "share answered", percent=True, targets=[("target 90/15", 0.9), ("target 80/20", 0.8)])
    paging = report.get("paging")
    if paging and paging.get("paged_calls"):
        steps = paging["escalations"]
        out["paging"] = bar_chart("Urgent pages: acknowledged, and how far they escalated",
                                  ["paged", "acknowledged", "called down", "to backup", "to supervisors",
                                   "not acknowledged"],
                                  [("calls", [paging["paged_calls"], paging["acknowledged"], steps["called_down"],
                                              steps["backup"], steps["supervisors"], paging["unacknowledged"]])],
                                  "calls")
    return out


def _rows(pairs: list[tuple[str, str]]) -> str:
    return "\n".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in pairs)


def render_html(report: dict) -> str:
    s = report["summary"]
    c = report["config"]
    erlang = s.get("erlang_c") or {}
    cats = s["categories"]
    figures = [
        ("Calls offered", _fmt(s["offered"])),
        ("… answered by an agent", _fmt(cats["answered"])),
        ("… put through to on-call", _fmt(cats["on_call"])),
        ("… voicemail", _fmt(cats["voicemail"])),
        ("… abandoned", _fmt(cats["abandoned"])),
        ("… other", _fmt(cats["other"])),
        ("Offered = sum of the above", "yes" if s["adds_up"] else "NO"),
        ("Entered the queue", _fmt(s["queued"])),
        ("Service level 90/15 (answered within 15 s / queued)",
         f"{_fmt(s['service_level']['15'], percent=True)} (Erlang C "
         f"{_fmt((erlang.get('service_level') or {}).get('15'), percent=True)})"),
        ("Service level 80/20 (answered within 20 s / queued)",
         f"{_fmt(s['service_level']['20'], percent=True)} (Erlang C "
         f"{_fmt((erlang.get('service_level') or {}).get('20'), percent=True)})"),
        ("Average speed of answer", f"{_fmt(s['average_speed_of_answer'], seconds=True)} (Erlang C "
                                    f"{_fmt(erlang.get('average_speed_of_answer'), seconds=True)})"),
        ("90th percentile wait", _fmt(s["wait_p90"], seconds=True)),
        ("Abandonment", _fmt(s["abandonment_rate"], percent=True)),
        ("Average handling time (connect to wrap-up)", _fmt(s["average_handle_time"], seconds=True)),
        ("Offered traffic (Erlangs)", f"{_fmt(erlang.get('traffic_erlangs'))} on {erlang.get('agents', '–')} agents"
                                      + (" — overloaded: the queue grows without bound" if erlang.get("overloaded")
                                         else "")),
        ("Callbacks made", _fmt(s["callbacks_made"])),
        ("Voicemails (reviewed)", f"{s['voicemails']} ({s['voicemails_reviewed']})"),
        ("Urgent pages to on-call", _fmt(s["urgent_pages"])),
        ("Calls without an owned outcome (goal 0)", _fmt(s["without_owned_outcome"])),
    ]
    paging = report.get("paging") or {}
    if paging:
        figures += [
            ("Urgent calls paged to on-call", _fmt(paging["paged_calls"])),
            ("… acknowledged (by whom)", f"{paging['acknowledged']} "
                                         f"({', '.join(f'{k}: {v}' for k, v in paging['acknowledged_by'].items())})"),
            ("… not acknowledged at the end of the day (goal 0)", _fmt(paging["unacknowledged"])),
            ("Time to acknowledge: median / 90th percentile / longest",
             " / ".join(_fmt(paging[k], seconds=True) for k in ("time_to_acknowledge_median",
                                                                 "time_to_acknowledge_p90",
                                                                 "time_to_acknowledge_longest"))),
            ("Escalations: called down / backup / supervisors",
             " / ".join(str(paging["escalations"][k]) for k in ("called_down", "backup", "supervisors"))),
        ]
    setup = [(k, str(v)) for k, v in c.items()]
    run = report.get("run", {})
    load = report.get("load")
    body = [f"<h1>Simulated day — {escape(report['started_at'])}</h1>",
            f"<p>{escape(report['headline'])}</p>",
            "<h2>Figures (from the ledger; times in simulated seconds)</h2>",
            f"<table>{_rows(figures)}</table>"]
    for name, svg in charts(report).items():
        body.append(f'<figure id="chart-{name}">{svg}</figure>')
    if load:
        body += ["<h2>Load: callers held in the queue at once</h2>",
                 f"<table>{_rows([(k, _fmt(v)) for k, v in load.items()])}</table>"]
    body += ["<h2>Cross-check: what callers experienced vs the ledger</h2>",
             f"<pre>{escape(json.dumps(report.get('cross_check'), indent=2))}</pre>",
             "<h2>Run</h2>", f"<table>{_rows([(k, str(v)) for k, v in run.items()])}</table>",
             "<h2>Settings</h2>", f"<table>{_rows(setup)}</table>"]
    style = ("body{font-family:system-ui,sans-serif;max-width:760px;margin:2em auto;color:#222}"
             "table{border-collapse:collapse;margin-bottom:1em}th,td{padding:3px 10px;border-bottom:1px solid #eee;"
             "text-align:left;font-weight:normal}td{font-variant-numeric:tabular-nums}"
             "figure{margin:1.5em 0}pre{background:#f6f6f6;padding:8px}")
    return ("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Simulated day</title>"
            f"<style>{style}</style></head><body>{''.join(body)}</body></html>")


def write_report(report: dict, out_dir: Path) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, html_path = out_dir / "report.json", out_dir / "report.html"
    json_path.write_text(json.dumps(report, indent=2, default=str))
    html_path.write_text(render_html(report))
    return json_path, html_path


def headline(summary: dict) -> str:
    s = summary
    erlang = s.get("erlang_c") or {}
    return (f"{s['offered']} calls offered, {s['answered']} answered; service level "
            f"{_fmt(s['service_level']['20'], percent=True)} within 20 s (Erlang C "
            f"{_fmt((erlang.get('service_level') or {}).get('20'), percent=True)}), ASA "
            f"{_fmt(s['average_speed_of_answer'], seconds=True)}, abandonment "
            f"{_fmt(s['abandonment_rate'], percent=True)}, "
            f"{s['without_owned_outcome']} calls without an owned outcome.")
