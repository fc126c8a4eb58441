"""The command line (contract section 5): `flask --app app practice|user|apikey|demo|worker`."""

from __future__ import annotations

import sys

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from callcenter.accounts import AccountError, create_api_key, create_practice, create_user
from callcenter.extensions import db

practice_cli = AppGroup("practice", help="Manage practices.")
user_cli = AppGroup("user", help="Manage staff accounts.")
apikey_cli = AppGroup("apikey", help="Manage practice API keys.")


def _fail(exc: Exception) -> None:
    db.session.rollback()
    raise click.ClickException(str(exc))


@practice_cli.command("create")
@click.option("--name", required=True)
@click.option("--number", required=True, help="The practice's public number, E.164.")
@click.option("--timezone", default="America/New_York", show_default=True)
def practice_create(name: str, number: str, timezone: str) -> None:
    """Create a practice and print its id."""
    try:
        practice = create_practice(db.session, name, number, timezone)
        db.session.commit()
    except AccountError as exc:
        _fail(exc)
    click.echo(practice.id)


@user_cli.command("create")
@click.option("--email", required=True)
@click.option("--role", required=True, type=click.Choice(["agent", "supervisor", "admin", "practice"]))
@click.option("--practice", "practice_id", type=int, default=None)
@click.option("--name", "display_name", default=None)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def user_create(email: str, role: str, practice_id: int | None, display_name: str | None,
                password_stdin: bool) -> None:
    """Create a staff account."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user = create_user(db.session, email, password, role, practice_id, display_name)
        db.session.commit()
    except AccountError as exc:
        _fail(exc)
    click.echo(f"created {user.role} {user.email} (id {user.id})")


@apikey_cli.command("create")
@click.option("--practice", "practice_id", type=int, required=True)
def apikey_create(practice_id: int) -> None:
    """Create an API key for a practice and print it (only this once)."""
    try:
        _, plain = create_api_key(db.session, practice_id)
        db.session.commit()
    except AccountError as exc:
        _fail(exc)
    click.echo(plain)


@click.command("demo")
@with_appcontext
def demo() -> None:
    """Load demonstration practices, agents and history (idempotent)."""
    from callcenter.demo import load_demo

    for line in load_demo(db.session):
        click.echo(line)
    db.session.commit()


@click.command("worker")
@click.option("--burst", is_flag=True, help="Stop when the queue is empty.")
@with_appcontext
def worker(burst: bool) -> None:
    """Run an RQ worker with its scheduler (timed jobs, reconciler)."""
    from ops.worker import run_worker

    run_worker(current_app._get_current_object(), burst=burst)


def register_commands(app: Flask) -> None:
    for command in (practice_cli, user_cli, apikey_cli, demo, worker):
        app.cli.add_command(command)
