"""The command line: `flask --app app practice|oncall|user|apikey|demo|worker|kept`.

Each command reads its options, calls one domain function, commits and prints the result. Input the
domain refuses rolls the session back and prints the domain's message (exit status 1, no traceback).
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from callcenter import audit, outage, schedule, signin
from callcenter.accounts import (
    AccountError,
    api_keys,
    create_api_key,
    create_practice,
    create_user,
    revoke_api_key,
    set_agent_audio,
    set_agent_skills,
)
from callcenter.extensions import db
from callcenter.menu import DEFAULT_OPTIONS
from callcenter.models import ROLES
from callcenter.practice_settings import (
    MAX_MAX_WAIT,
    MIN_MAX_WAIT,
    add_on_call_shift,
    change_hours,
    change_settings,
    get_practice,
)

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


@practice_cli.command("configure")
@click.option("--practice", "practice_id", type=int, required=True)
@click.option("--greeting", default=None, help="Spoken first, instead of 'Thank you for calling NAME.'")
@click.option("--options", default=None,
              help=f"Comma-separated menu options: {','.join(DEFAULT_OPTIONS)}.")
@click.option("--languages", default=None, help="Comma-separated: en or en,es.")
@click.option("--max-wait", type=click.IntRange(MIN_MAX_WAIT, MAX_MAX_WAIT), default=None,
              help="Seconds on hold before a message.")
@click.option("--instructions", default=None, help="What agents should know when they take this practice's calls.")
@click.option("--queue-capacity", type=int, default=None,
              help="Callers of this practice who may wait at once (0: as many as the service holds).")
@click.option("--sms-names-practice", type=click.Choice(["yes", "no"]), default=None,
              help="Whether texts to patients name the practice (no, unless the practice asks: lock screens).")
@click.option("--recording-retention-days", type=click.IntRange(0, 3650), default=None,
              help="Days recordings are kept: a reviewed voicemail's at Twilio, a recorded conversation's "
                   "copy here (90 by default; 0: kept).")
@click.option("--record-calls", type=click.Choice(["yes", "no"]), default=None,
              help="Record patients' conversations with agents (the caller is told first).")
@click.option("--digest-at", default=None, help="When the daily digest is made, HH:MM in the practice's time.")
@click.option("--digest-emails", default=None,
              help="Comma-separated addresses the digest is emailed to (empty: only in the portal).")
@click.option("--emergency-number", default=None,
              help="The practice's own emergency line, for urgent callers when nobody is on call (empty: none).")
@click.option("--survey", type=click.Choice(["yes", "no"]), default=None,
              help="Ask patients 1 to 5 by SMS the day after a call that ended with a message.")
@click.option("--page-minutes", default=None,
              help="An unacknowledged page's delays in minutes: call-down,backup,supervisors, e.g. 3,5,5 "
                   "(empty: the service's own).")
def practice_configure(practice_id, greeting, options, languages, max_wait, instructions, queue_capacity,
                       sms_names_practice, recording_retention_days, record_calls, digest_at, digest_emails,
                       emergency_number, survey, page_minutes) -> None:
    """Set a practice's greeting, menu, languages, maximum wait, agent instructions and queue capacity."""
    try:
        practice, _ = change_settings(
            db.session, practice_id, by="command line", greeting=greeting, options=options, languages=languages,
            max_wait=max_wait, instructions=instructions, queue_capacity=queue_capacity,
            sms_names_practice=None if sms_names_practice is None else sms_names_practice == "yes",
            recording_retention_days=recording_retention_days,
            records_calls=None if record_calls is None else record_calls == "yes",
            digest_at=digest_at, digest_emails=digest_emails, emergency_number=emergency_number,
            survey=None if survey is None else survey == "yes", page_minutes=page_minutes)
        db.session.commit()
    except AccountError as exc:
        _fail(exc)
    click.echo(f"practice {practice.id} configured")


@practice_cli.command("hours")
@click.option("--practice", "practice_id", type=int, required=True)
@click.option("--open", "periods", multiple=True, required=True,
              help="DAYS=HH:MM-HH:MM in the practice's timezone, e.g. mon-fri=08:00-17:00 or sat=09:00-12:00.")
@click.option("--holiday", "holidays", multiple=True, help="A closed date, YYYY-MM-DD (repeatable).")
def practice_hours(practice_id, periods, holidays) -> None:
    """Replace a practice's business hours (and add holidays)."""
    try:
        practice, _ = change_hours(db.session, practice_id, periods, add_holidays=holidays, by="command line")
        db.session.commit()
    except AccountError as exc:
        _fail(exc)
    click.echo(f"practice {practice.id}: {len(practice.hours)} opening periods, {len(practice.holidays)} holidays")


oncall_cli = AppGroup("oncall", help="Manage on-call clinicians.")


@oncall_cli.command("add")
@click.option("--practice", "practice_id", type=int, required=True)
@click.option("--name", required=True)
@click.option("--number", required=True, help="The clinician's mobile, E.164.")
@click.option("--start", "starts", required=True, help="ISO 8601 with offset, e.g. 2026-12-01T17:00-05:00")
@click.option("--end", "ends", required=True)
@click.option("--backup-name", default=None, help="Who is paged when the clinician does not acknowledge.")
@click.option("--backup-number", default=None, help="The backup's mobile, E.164.")
def oncall_add(practice_id, name, number, starts, ends, backup_name, backup_number) -> None:
    """Add an on-call shift (an override: it comes before the rotation at the same time): urgent
    after-hours calls are put through to this number and paged."""
    try:
        shift = add_on_call_shift(db.session, practice_id, name, number, starts, ends, backup_name, backup_number)
        db.session.commit()
    except AccountError as exc:
        _fail(exc)
    click.echo(f"on-call shift {shift.id} added")


@oncall_cli.command("rotation")
@click.option("--practice", "practice_id", type=int, required=True)
@click.option("--name", required=True)
@click.option("--number", required=True, help="The clinician's mobile, E.164.")
@click.option("--days", required=True, help="Weekdays in the practice's time: mon-fri, sat,sun, fri-mon ...")
@click.option("--hours", required=True, help="HH:MM-HH:MM in the practice's time; 17:00-08:00 runs past midnight, "
                                             "00:00-00:00 is the whole day.")
@click.option("--backup-name", default=None, help="Who is paged when the clinician does not acknowledge.")
@click.option("--backup-number", default=None, help="The backup's mobile, E.164.")
def oncall_rotation(practice_id, name, number, days, hours, backup_name, backup_number) -> None:
    """Add a weekly on-call slot; its shifts for the next two weeks are filled in (then by the worker)."""
    try:
        rotation = schedule.add_rotation(db.session, practice_id, name, number, days, hours,
                                         backup_name=backup_name, backup_number=backup_number)
        db.session.commit()
    except AccountError as exc:
        _fail(exc)
    click.echo(f"on-call rotation {rotation.id} added")


@oncall_cli.command("rotation-remove")
@click.option("--id", "rotation_id", type=int, required=True)
def oncall_rotation_remove(rotation_id) -> None:
    """End a rotation now: its shifts still to come go, those that began stay."""
    try:
        schedule.remove_rotation(db.session, rotation_id, datetime.now(UTC))
        db.session.commit()
    except AccountError as exc:
        _fail(exc)
    click.echo(f"on-call rotation {rotation_id} removed")


@oncall_cli.command("off-duty")
@click.option("--practice", "practice_id", type=int, required=True)
@click.option("--name", required=True)
@click.option("--number", required=True, help="The clinician's mobile, E.164.")
@click.option("--start", "starts", required=True, help="ISO 8601 with offset, e.g. 2026-12-24T00:00-08:00")
@click.option("--end", "ends", required=True)
def oncall_off_duty(practice_id, name, number, starts, ends) -> None:
    """Mark a clinician off duty (a vacation, sick leave): a shift of theirs then is shown as a conflict."""
    try:
        off = schedule.mark_off_duty(db.session, practice_id, name, number, starts, ends)
        db.session.commit()
    except AccountError as exc:
        _fail(exc)
    click.echo(f"off duty {off.id} added")


@oncall_cli.command("show")
@click.option("--practice", "practice_id", type=int, required=True)
@click.option("--days", type=click.IntRange(1, 31), default=7, help="How far ahead.")
def oncall_show(practice_id, days) -> None:
    """Who is on call (and their backup) for the days ahead, in the practice's time, and the gaps: when
    the practice is closed and nobody is on call, or a clinician on a shift is off duty. Exit status 2 when
    there is a gap."""
    try:
        practice = get_practice(db.session, practice_id)
    except AccountError as exc:
        _fail(exc)
    tz = ZoneInfo(practice.timezone)
    now = datetime.now(UTC)
    end = now + timedelta(days=days)
    schedule.fill(db.session, practice, now)
    db.session.commit()
    for shift in schedule.shifts(db.session, practice.id, now, end):
        kind = "rotation" if shift.rotation_id else "override"
        backup = f", backup {shift.backup_name} {shift.backup_number}" if shift.backup_number else ", no backup"
        click.echo(f"{shift.starts_at.astimezone(tz):%a %d %b %H:%M} to {shift.ends_at.astimezone(tz):%a %d %b %H:%M}"
                   f"  {shift.clinician_name} {shift.number}{backup} ({kind})")
    for first, second in schedule.overlaps(db.session, practice.id, now, end):
        click.echo(f"OVERLAP {second.starts_at.astimezone(tz):%a %d %b %H:%M}: {first.clinician_name} and "
                   f"{second.clinician_name} are both on call ({second.clinician_name} is the one paged)")
    for shift, off in schedule.conflicts(db.session, practice.id, now, end):
        click.echo(f"OFF DUTY {shift.starts_at.astimezone(tz):%a %d %b %H:%M}: {off.clinician_name} is on this "
                   f"shift (or its backup) but off duty then")
    found = schedule.gaps(db.session, practice, now, end) + schedule.conflicts(db.session, practice.id, now, end)
    for gap in schedule.gaps(db.session, practice, now, end):
        click.echo(f"GAP {gap.starts_at.astimezone(tz):%a %d %b %H:%M} to {gap.ends_at.astimezone(tz):%a %d %b %H:%M}"
                   f": closed, and nobody on call")
    if found:
        sys.exit(2)


@user_cli.command("create")
@click.option("--email", required=True)
@click.option("--role", required=True, type=click.Choice(list(ROLES)),
              help="practice: a practice's staff (read, acknowledge); practice_admin: also its settings.")
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


def _sessions_ended(user, ended: int) -> None:
    """The account's consoles close too, on whichever web process holds them (via the Socket.IO queue)."""
    if user.is_staff:
        current_app.end_staff_session(user.id)
    click.echo(f"{ended} sessions ended")


@user_cli.command("unlock")
@click.option("--email", required=True)
def user_unlock(email: str) -> None:
    """Unlock an account locked after repeated wrong passwords (recorded as a security event)."""
    try:
        user = signin.unlock(db.session, email, by="command line")
        db.session.commit()
    except AccountError as exc:
        _fail(exc)
    click.echo(f"unlocked {user.email}")


@user_cli.command("logout-everywhere")
@click.option("--email", required=True)
def user_logout_everywhere(email: str) -> None:
    """End every session of an account: each browser must sign in again."""
    try:
        user, ended = signin.log_out_everywhere(db.session, email, by="command line")
        db.session.commit()
    except AccountError as exc:
        _fail(exc)
    _sessions_ended(user, ended)


@user_cli.command("password")
@click.option("--email", required=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def user_password(email: str, password_stdin: bool) -> None:
    """Set a new password; every session opened with the old one ends."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("New password", hide_input=True, confirmation_prompt=True)
    try:
        user, ended = signin.set_password(db.session, email, password, by="command line")
        db.session.commit()
    except AccountError as exc:
        _fail(exc)
    click.echo(f"password changed for {user.email}")
    _sessions_ended(user, ended)


@user_cli.command("two-factor-reset")
@click.option("--email", required=True)
def user_two_factor_reset(email: str) -> None:
    """A lost phone: forget the account's two-factor secret and recovery codes (recorded); it is set up again
    at the next sign-in, and open sessions end."""
    try:
        user, ended = signin.reset_two_factor(db.session, email, by="command line")
        db.session.commit()
    except AccountError as exc:
        _fail(exc)
    click.echo(f"two-factor sign-in reset for {user.email}")
    _sessions_ended(user, ended)


@user_cli.command("disable")
@click.option("--email", required=True)
def user_disable(email: str) -> None:
    """Disable an account: it cannot sign in, and its sessions end now."""
    try:
        user, ended = signin.disable(db.session, email, by="command line")
        db.session.commit()
    except AccountError as exc:
        _fail(exc)
    click.echo(f"disabled {user.email}")
    _sessions_ended(user, ended)


@user_cli.command("skills")
@click.option("--email", required=True)
@click.option("--languages", default=None, help="Comma-separated: en, es.")
@click.option("--practices", default=None, help="Practice ids the agent is trained for, comma-separated, or 'all'.")
def user_skills(email: str, languages: str | None, practices: str | None) -> None:
    """Set the languages an agent takes calls in and the practices they are trained for."""
    try:
        user = set_agent_skills(db.session, email, languages, practices)
        db.session.commit()
    except AccountError as exc:
        _fail(exc)
    trained = ", ".join(map(str, user.trained_practices)) if user.trained_practices else "all practices"
    click.echo(f"{user.email}: languages {', '.join(user.languages or ['en'])}; trained for {trained}")


@user_cli.command("audio")
@click.option("--email", required=True)
@click.option("--phone", default=None, help="Ring this phone (with a press-1 whisper) instead of the browser.")
@click.option("--browser", is_flag=True, help="Hear callers in the console's browser audio again.")
def user_audio(email: str, phone: str | None, browser: bool) -> None:
    """Choose where an agent hears callers: their browser (the default) or their own phone."""
    if bool(phone) == browser:
        _fail(AccountError("Give either --phone NUMBER or --browser."))
    try:
        user = set_agent_audio(db.session, email, None if browser else phone)
        db.session.commit()
    except AccountError as exc:
        _fail(exc)
    where = f"their phone {user.audio_phone}, after pressing 1" if user.audio_phone else "the console's browser audio"
    click.echo(f"{user.email}: takes calls on {where}")


@apikey_cli.command("create")
@click.option("--practice", "practice_id", type=int, required=True)
@click.option("--write", is_flag=True, help="The key may also acknowledge messages (read-only otherwise).")
def apikey_create(practice_id: int, write: bool) -> None:
    """Create an API key for a practice and print it (only this once)."""
    try:
        _, plain = create_api_key(db.session, practice_id, can_write=write)
        db.session.commit()
    except AccountError as exc:
        _fail(exc)
    click.echo(plain)


@apikey_cli.command("list")
@click.option("--practice", "practice_id", type=int, required=True)
def apikey_list(practice_id: int) -> None:
    """A practice's keys: their prefix (never the key), when made, and whether revoked."""
    for key in api_keys(db.session, practice_id):
        state = f"revoked {key.revoked_at:%Y-%m-%d %H:%M} UTC" if key.revoked_at else "in use"
        click.echo(f"ak_{key.prefix}_…  created {key.created_at:%Y-%m-%d %H:%M} UTC  {state}")


@apikey_cli.command("revoke")
@click.option("--prefix", required=True, help="The key's first part: ak_<prefix>_ (as `apikey list` shows).")
def apikey_revoke(prefix: str) -> None:
    """Revoke an API key: requests with it are refused (401) from now on."""
    try:
        key = revoke_api_key(db.session, prefix, by="command line")
        db.session.commit()
    except AccountError as exc:
        _fail(exc)
    click.echo(f"revoked ak_{key.prefix}_… of practice {key.practice_id}")


@click.command("demo")
@with_appcontext
def demo() -> None:
    """Load demonstration practices, agents and history (idempotent)."""
    from callcenter.demo import load_demo

    for line in load_demo(db.session):
        click.echo(line)
    db.session.commit()


kept_cli = AppGroup("kept", help="Twilio callbacks kept for replay (callcenter/kept.py).")


@kept_cli.command("show")
def kept_show() -> None:
    """How many callbacks wait for replay (in Redis, in this machine's spool) and those set aside, with why."""
    kept = current_app.kept
    dead = kept.dead()
    click.echo(f"waiting for replay: {len(kept)} in Redis, {kept.spooled()} in this machine's spool ({kept.spool})")
    click.echo(f"set aside (can never be applied as they are): {len(dead)}")
    for item in dead:
        click.echo(f"  {item['error']}: {item['raw'][:300]}")


@kept_cli.command("retry")
def kept_retry() -> None:
    """Put the callbacks set aside back in line; the worker's next round tries them again."""
    click.echo(f"{current_app.kept.retry_dead()} callbacks put back in line for replay")


@click.command("worker")
@click.option("--burst", is_flag=True, help="Stop when the queue is empty.")
@with_appcontext
def worker(burst: bool) -> None:
    """Run an RQ worker with its scheduler (timed jobs, reconciler)."""
    from ops.worker import run_worker

    run_worker(current_app._get_current_object(), burst=burst)


audit_cli = AppGroup("audit", help="The audit of who saw patient data (hash-chained).")


@audit_cli.command("verify")
@click.option("--head", "expected", default=None, metavar="SEQ:HASH",
              help="A head the worker logged ('audit chain head: SEQ HASH'): the chain must still reach it.")
def audit_verify(expected: str | None) -> None:
    """Seal what is new, then check the whole chain; exit status 1 when it is broken."""
    expect_head = None
    if expected:
        seq, _, hashed = expected.replace(" ", ":").partition(":")
        if not seq.isdigit() or len(hashed) != 64:
            _fail(AccountError("--head is SEQ:HASH, as the worker's log gives it"))
        expect_head = (int(seq), hashed)
    key = current_app.config["AUDIT_KEY"].encode()
    audit.seal(db.session, key)
    db.session.commit()
    result = audit.verify(db.session, key, expect_head=expect_head)
    if not result.intact:
        click.echo(f"BROKEN: {result.why}; {result.checked} entries before it check out", err=True)
        sys.exit(1)
    now_head = audit.head(db.session)
    click.echo(f"{result.checked} audit entries, chain intact"
               + (f"; head {now_head[0]}:{now_head[1]}" if now_head else ""))


@audit_cli.command("export")
@click.option("--practice", "practice_id", type=int, required=True)
@click.option("--from", "since", required=True, help="First day, YYYY-MM-DD (UTC).")
@click.option("--to", "until", required=True, help="Last day, YYYY-MM-DD (UTC), included.")
@click.option("--out", type=click.Path(dir_okay=False, writable=True), default=None, help="A file; default: stdout.")
def audit_export(practice_id: int, since: str, until: str, out: str | None) -> None:
    """A practice's audit entries for a range of days, as CSV with each entry's place and hash in the chain."""
    from datetime import UTC, date, datetime, time, timedelta

    try:
        first, last = date.fromisoformat(since), date.fromisoformat(until)
    except ValueError:
        _fail(AccountError("--from and --to are days: YYYY-MM-DD"))
    if last < first:
        _fail(AccountError("--to is before --from"))
    audit.seal(db.session, current_app.config["AUDIT_KEY"].encode())
    db.session.commit()
    text = audit.export(db.session, practice_id, datetime.combine(first, time(), UTC),
                        datetime.combine(last + timedelta(days=1), time(), UTC))
    if out:
        with open(out, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        click.echo(f"{text.count(chr(10)) - 1} entries written to {out}")
    else:
        click.echo(text, nl=False)


twilio_cli = AppGroup("twilio", help="Set-up texts for the Twilio console.")


@twilio_cli.command("outage-bins")
def twilio_outage_bins() -> None:
    """The two TwiML Bins callers hear when the app is down, and where each goes in Twilio's console."""
    thanks_url = "https://handler.twilio.com/twiml/EH<the Thanks Bin's SID>"
    click.echo("When the app cannot answer, Twilio asks each number's Fallback URL. Point it at a TwiML Bin,\n"
               "which Twilio serves with nothing of ours up. Make two Bins (Console > TwiML Bins > Create):\n")
    click.echo("1. Name it 'Answering service: thanks', paste this, save, and copy its URL:\n")
    click.echo(outage.thanks_bin())
    click.echo("\n2. Name it 'Answering service: outage', paste this with the URL of Bin 1 in place of\n"
               f"   {thanks_url}, and save:\n")
    click.echo(outage.fallback_bin(thanks_url))
    click.echo("\n3. For each practice's number (Phone Numbers > Active numbers > the number > Voice):\n"
               "   'Primary handler fails': TwiML Bin 'Answering service: outage' (this is the Fallback URL).\n\n"
               "When the app is back, the worker finds these calls through Twilio's REST API within ten minutes:\n"
               "a voicemail to review for each message left, a callback owed for each caller who hung up.")


def register_commands(app: Flask) -> None:
    """Add these commands to the app's command line."""
    for command in (practice_cli, user_cli, apikey_cli, oncall_cli, kept_cli, audit_cli, twilio_cli, demo, worker):
        app.cli.add_command(command)
