"""Run the emulator on its own: `python -m emulator --port 5001 --voice-url ... --auth-token ...`."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from werkzeug.serving import make_server

from . import create_emulator, state_of

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
    args = parser.parse_args(argv)
    if not args.auth_token:
        parser.error("--auth-token (or EMULATOR_AUTH_TOKEN) is required")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # request lines would log phone numbers
    numbers = [n.strip() for n in args.numbers.split(",") if n.strip()]
    app = create_emulator(args.account_sid, args.auth_token, args.voice_url, args.status_url, args.sms_url,
                          numbers, args.speed)
    server = make_server(args.host, args.port, app, threaded=True)
    log = logging.getLogger("emulator")
    log.info("Twilio emulator: softphone at http://%s:%s/ ; REST API base http://%s:%s", args.host,
             args.port, args.host, args.port)
    log.info("voice webhook %s, status %s, sms %s", args.voice_url or "(none)", args.status_url or "(none)",
             args.sms_url or "(none)")
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
