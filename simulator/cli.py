"""`flask --app app simulate`: play a day of callers and agents against a running service."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import with_appcontext


@click.command("simulate")
@click.option("--app-url", default="http://127.0.0.1:5000", show_default=True, help="The running service.")
@click.option("--emulator-url", default="http://127.0.0.1:5001", show_default=True, help="The Twilio emulator.")
@click.option("--calls", type=click.IntRange(1), default=None,
              help="Exactly this many callers over the day (default: Poisson with --rate).")
@click.option("--hours", type=click.FloatRange(0.01, 24), default=1.0, show_default=True,
              help="Length of the simulated day.")
@click.option("--rate", type=click.FloatRange(0.1), default=60.0, show_default=True,
              help="Mean calls per hour, shaped by the hourly profile, when --calls is not given.")
@click.option("--start-hour", type=click.IntRange(0, 23), default=8, show_default=True,
              help="Clock hour the day starts at (picks the arrival profile).")
@click.option("--agents", type=click.IntRange(1, 200), default=4, show_default=True)
@click.option("--speed", type=click.FloatRange(0.01), default=None,
              help="Simulated seconds per real second; must match the emulator's (default: the emulator's).")
@click.option("--seed", type=int, default=None, help="Random seed, to replay the same day.")
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Report directory (default: instance/simulations/<timestamp>/).")
@click.option("--number", "numbers", multiple=True, help="Practice number to call (repeatable; default: all).")
@click.option("--handle-time", type=click.FloatRange(1), default=240.0, show_default=True,
              help="Mean talk time in simulated seconds (lognormal).")
@click.option("--wrap-time", type=click.FloatRange(0), default=30.0, show_default=True,
              help="Mean after-call work in simulated seconds.")
@click.option("--patience", type=click.FloatRange(1), default=180.0, show_default=True,
              help="Mean time a caller holds before hanging up, simulated seconds (exponential).")
@click.option("--max-wait", type=click.FloatRange(1), default=None,
              help="Practices' maximum wait for the run, simulated seconds (default: their own setting).")
@click.option("--keep-hours", is_flag=True,
              help="Leave the practices' opening hours alone (default: open around the clock for the run).")
@click.option("--hold", type=click.IntRange(0), default=0,
              help="Load mode: put this many callers on hold at once instead of playing a day.")
@click.option("--hold-for", type=click.FloatRange(0), default=60.0, show_default=True,
              help="Load mode: real seconds to keep them waiting once all are in the queue.")
@click.option("--hold-rate", type=click.FloatRange(0.1), default=50.0, show_default=True,
              help="Load mode: callers dialled per real second.")
@click.option("--drain-timeout", type=click.FloatRange(1), default=180.0, show_default=True,
              help="Real seconds to wait after the last caller for every call to reach an owned outcome.")
@click.option("--workers", type=click.IntRange(1, 256), default=16, show_default=True,
              help="Threads that drive the callers.")
@click.option("--no-progress", is_flag=True, help="No progress bar on stderr.")
@with_appcontext
def simulate(app_url, emulator_url, calls, hours, rate, start_hour, agents, speed, seed, out, numbers, handle_time,
             wrap_time, patience, max_wait, keep_hours, hold, hold_for, hold_rate, drain_timeout, workers,
             no_progress) -> None:
    """Play a day of callers and agents against a running service and write a report."""
    from .behaviour import Behaviour
    from .run import SimulationConfig, SimulationError, run_simulation

    config = SimulationConfig(
        app_url=app_url, emulator_url=emulator_url, calls=calls, hours=hours, rate=rate, start_hour=start_hour,
        agents=agents, speed=speed, seed=seed, out=out, numbers=list(numbers),
        behaviour=Behaviour(handle_seconds=handle_time, wrap_seconds=wrap_time, patience_seconds=patience),
        open_hours=not keep_hours, max_wait=max_wait, hold=hold, hold_for=hold_for, hold_rate=hold_rate,
        drain_timeout=drain_timeout, workers=workers, progress=not no_progress,
    )
    try:
        report = run_simulation(current_app._get_current_object(), config)
    except SimulationError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(report["headline"])
    if report.get("load"):
        click.echo("load: " + ", ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}"
                                         for k, v in report["load"].items()))
    click.echo(f"report: {report['files']['html']}")
    if report["summary"]["without_owned_outcome"]:
        raise click.ClickException(f"{report['summary']['without_owned_outcome']} calls have no owned outcome")


def register_commands(app: Flask) -> None:
    """Add `flask simulate` to the app's command line."""
    app.cli.add_command(simulate)
