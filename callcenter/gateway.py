"""The one place that talks to Twilio's REST API, through the `twilio` package's Client.

`api_base` is Twilio's host in production and the built-in emulator's when no credentials are
configured; the code path is the same either way.
"""

from __future__ import annotations

import logging
import re

import requests
from requests import RequestException
from twilio.base.exceptions import TwilioException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

# twilio-python logs request parameters at INFO; those can hold patients' numbers.
logging.getLogger("twilio.http_client").setLevel(logging.WARNING)


_RECORDING_SID = re.compile(r"RE[0-9a-fA-F]{32}")


class GatewayError(Exception):
    """Twilio (or the emulator) refused or could not be reached."""


# A refusal from Twilio, or no answer at all (connection refused, timeout): both mean "not done".
FAILURES = (TwilioException, RequestException, OSError)


class TwilioGateway:
    def __init__(self, account_sid: str, auth_token: str, api_base: str, http_client=None, timeout: float = 10,
                 message_status_url=None, public_base=None):
        """`message_status_url()`: where Twilio reports the delivery of each SMS we send (None: nowhere);
        `public_base()`: the service's own public address, for links in texts (None: no links)."""
        self.message_status_url = message_status_url or (lambda: None)
        self.public_base = public_base or (lambda: None)
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.api_base = api_base.rstrip("/")
        self.client = Client(
            account_sid, auth_token, http_client=http_client or TwilioHttpClient(timeout=timeout)
        )
        self.client.api.base_url = self.api_base

    def is_recording_url(self, url: str | None) -> bool:
        """Whether `url` is a recording of this account at Twilio (its API host, its scheme, a RE sid)."""
        prefix = f"{self.api_base}/2010-04-01/Accounts/{self.account_sid}/Recordings/"
        return bool(url) and url.startswith(prefix) and _RECORDING_SID.fullmatch(url[len(prefix):]) is not None

    def recording_audio(self, url: str) -> tuple[bytes, str]:
        """A recording's audio (WAV) and its content type, fetched with the account's credentials (Twilio may
        require them for media); only ever from this account's recordings at Twilio."""
        if not self.is_recording_url(url):
            raise GatewayError("not a recording of this account at Twilio")
        try:
            answer = requests.get(url + ".wav", auth=(self.account_sid, self.auth_token), timeout=(3, 20))
        except RequestException as exc:
            raise GatewayError(f"recording fetch failed: {type(exc).__name__}") from exc
        if answer.status_code != 200:
            raise GatewayError(f"recording fetch answered {answer.status_code}")
        return answer.content, answer.headers.get("Content-Type", "audio/x-wav")

    def redirect_call(self, call_sid: str, url: str) -> None:
        """Make a live call fetch new TwiML from `url` (e.g. leave the queue for an agent)."""
        try:
            self.client.api.v2010.accounts(self.account_sid).calls(call_sid).update(url=url, method="POST")
        except FAILURES as exc:
            raise GatewayError(f"redirect failed: {exc}") from exc

    def call_status(self, call_sid: str) -> str:
        """Twilio's own word on a call's status (queued, ringing, in-progress, completed, ...)."""
        try:
            return self.client.api.v2010.accounts(self.account_sid).calls(call_sid).fetch().status
        except FAILURES as exc:
            raise GatewayError(f"fetch failed: {exc}") from exc

    def recordings(self, call_sid: str) -> list[dict]:
        """The call's finished recordings at Twilio, newest first: sid, url (as a RecordingUrl), duration."""
        try:
            found = self.client.api.v2010.accounts(self.account_sid).recordings.list(call_sid=call_sid, limit=20)
        except FAILURES as exc:
            raise GatewayError(f"recordings list failed: {exc}") from exc
        listed = []
        for recording in found:
            try:
                duration = int(recording.duration)
            except (TypeError, ValueError):
                duration = -1
            if duration < 0 or not recording.uri:  # -1: still recording
                continue
            listed.append({"sid": recording.sid, "url": self.api_base + recording.uri.removesuffix(".json"),
                           "duration": duration})
        return listed

    def calls_started_since(self, day, limit: int = 5000) -> list[dict]:
        """The account's calls that started on or after `day` (a UTC date, as Twilio filters), newest first:
        sid, from, to, direction, status, start_time, end_time (aware datetimes or None), duration."""
        try:
            found = self.client.api.v2010.accounts(self.account_sid).calls.list(start_time_after=day, limit=limit,
                                                                                page_size=1000)
        except FAILURES as exc:
            raise GatewayError(f"calls list failed: {exc}") from exc
        # twilio-python keeps "from" as `_from` (a keyword in Python).
        return [{"sid": c.sid, "from": c._from, "to": c.to, "direction": c.direction, "status": c.status,
                 "start_time": c.start_time, "end_time": c.end_time, "duration": c.duration} for c in found]

    def delete_recording(self, recording_sid: str) -> None:
        """Delete a recording at Twilio; one already gone counts as deleted."""
        try:
            self.client.api.v2010.accounts(self.account_sid).recordings(recording_sid).delete()
        except TwilioException as exc:
            if getattr(exc, "status", None) == 404:
                return
            raise GatewayError(f"recording delete failed: {exc}") from exc
        except FAILURES as exc:
            raise GatewayError(f"recording delete failed: {exc}") from exc

    def end_call(self, call_sid: str) -> None:
        try:
            self.client.api.v2010.accounts(self.account_sid).calls(call_sid).update(status="completed")
        except FAILURES as exc:
            raise GatewayError(f"hang-up failed: {exc}") from exc

    def place_call(self, to: str, from_: str, url: str, status_callback: str | None = None) -> str:
        """Start an outbound call whose TwiML comes from `url`; return its CallSid."""
        kwargs = {"to": to, "from_": from_, "url": url}
        if status_callback:
            kwargs["status_callback"] = status_callback
            kwargs["status_callback_event"] = ["initiated", "ringing", "answered", "completed"]
        try:
            call = self.client.api.v2010.accounts(self.account_sid).calls.create(**kwargs)
        except FAILURES as exc:
            raise GatewayError(f"call failed: {exc}") from exc
        return call.sid

    def update_participant(self, room: str, call_sid: str, **changes) -> None:
        """Change a call in a live conference room: `hold` (Twilio's hold music), `end_conference_on_exit`."""
        try:
            conference = self._live_room(room)
            conference.participants(call_sid).update(**changes)
        except FAILURES as exc:
            raise GatewayError(f"participant update failed: {exc}") from exc

    def _live_room(self, room: str):
        """The conference now in progress under this friendly name (TwilioException if there is none)."""
        account = self.client.api.v2010.accounts(self.account_sid)
        found = account.conferences.list(friendly_name=room, status="in-progress", limit=1)
        if not found:
            raise TwilioException(f"no conference in progress named {room}")
        return account.conferences(found[0].sid)

    def send_sms(self, to: str, from_: str, body: str, status_callback: str | None = None) -> str:
        """Send a text message; return its MessageSid."""
        kwargs = {"to": to, "from_": from_, "body": body}
        status_callback = status_callback or self.message_status_url()
        if status_callback:
            kwargs["status_callback"] = status_callback
        try:
            message = self.client.api.v2010.accounts(self.account_sid).messages.create(**kwargs)
        except FAILURES as exc:
            raise GatewayError(f"sms failed: {exc}") from exc
        return message.sid
