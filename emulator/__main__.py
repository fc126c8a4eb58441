"""Run the emulator on its own: `python -m emulator --port 5001 --voice-url ... --auth-token ...`.

Every option also reads an environment variable (EMULATOR_PORT, EMULATOR_VOICE_URL, ...). To rehearse
Twilio's misbehaving status callbacks, `--chaos duplicate,reorder,delay=0.5` (or EMULATOR_CHAOS) sends
each callback twice with one idempotency token, holds a call's callbacks and sends them newest first,
and waits half a second before each; any subset of the three may be given. SequenceNumber still
numbers each call's events in the order they happened.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from werkzeug.serving import make_server

from . import create_emulator, state_of
from .state import CallbackChaos

DEFAULT_ACCOUNT_SID = "AC" + "e" * 32  # the app's EMULATOR_ACCOUNT_SID


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    env = os.environ
    parser = argparse.ArgumentParser(prog="python -m emulator", description="A local Twilio emulator.")
    parser.add_argument("--host", default=env.get("EMULATOR_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(env.get("EMULATOR_PORT", "5001")))
    parser.add_argument("--account-sid", default=env.get("EMULATOR_ACCOUNT_SID", DEFAULT_ACCOUNT_SID))
    parser.add_argument("--auth-token", default=env.get("EMULATOR_AUTH_TOKEN"),
                        help="also EMULATOR_AUTH_TOKEN (required)")
    parser.add_argument("--voice-url", default=env.get("EMULATOR_VOICE_URL"), help='"A call comes in"')
    parser.add_argument("--status-url", default=env.get("EMULATOR_STATUS_URL"), help='"Call status changes"')
    parser.add_argument("--sms-url", default=env.get("EMULATOR_SMS_URL"), help='"A message comes in"')
    parser.add_argument("--numbers", default=env.get("EMULATOR_NUMBERS", ""),
                        help="comma-separated numbers the softphone suggests")
    parser.add_argument("--speed", type=float, default=float(env.get("EMULATOR_SPEED", "1")))
    parser.add_argument("--auto-answer-clients", action="store_true",
                        default=env.get("EMULATOR_AUTO_ANSWER_CLIENTS", "") not in ("", "0"),
                        help="answer <Dial><Client> legs that have no registered browser device by itself "
                             "(for load generators that stand in for agents' browsers)")
    parser.add_argument("--chaos", default=env.get("EMULATOR_CHAOS", ""),
                        help="status callbacks misbehave: duplicate,reorder,delay=SECONDS (any of them)")
    args = parser.parse_args(argv)
    if not args.auth_token:
        parser.error("--auth-token (or EMULATOR_AUTH_TOKEN) is required")
    try:
        args.chaos = CallbackChaos.parse(args.chaos)
    except ValueError as exc:
        parser.error(f"--chaos: {exc}")
    return args


def build_app(args: argparse.Namespace):
    """The emulator app the command line describes."""
    numbers = [n.strip() for n in args.numbers.split(",") if n.strip()]
    app = create_emulator(args.account_sid, args.auth_token, args.voice_url, args.status_url, args.sms_url,
                          numbers, args.speed)
    state_of(app).callback_chaos = args.chaos
    state_of(app).auto_answer_clients = args.auto_answer_clients
    return app


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # request lines would log phone numbers
    app = build_app(args)
    server = make_server(args.host, args.port, app, threaded=True)
    log = logging.getLogger("emulator")
    log.info("Twilio emulator: softphone at http://%s:%s/ ; REST API base http://%s:%s", args.host,
             args.port, args.host, args.port)
    log.info("voice webhook %s, status %s, sms %s", args.voice_url or "(none)", args.status_url or "(none)",
             args.sms_url or "(none)")
    if args.chaos != CallbackChaos():
        log.info("status callback chaos: %s", args.chaos)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        state_of(app).shutdown()
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
