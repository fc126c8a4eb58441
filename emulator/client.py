"""A Python driver for the softphone's JSON endpoints, for tests and simulations.

    phone = PhoneClient("http://127.0.0.1:5001")
    call = phone.dial("+15550001111", "+14155550101")
    call.wait_for("press 1")
    call.press("1")
"""

from __future__ import annotations

import time

import requests

POLL_SECONDS = 0.05
TERMINAL = {"completed", "busy", "failed", "no-answer", "canceled"}


class PhoneTimeout(AssertionError):
    """What the caller waited for did not happen in time."""


class PhoneCall:
    """One call as a softphone sees it: its transcript, its status, and the keypad."""

    def __init__(self, phone: PhoneClient, sid: str):
        self.phone = phone
        self.sid = sid

    def __repr__(self) -> str:
        return f"PhoneCall({self.sid})"

    def _post(self, action: str, payload: dict | None = None) -> dict:
        response = self.phone.session.post(f"{self.phone.base_url}/phone/api/calls/{self.sid}/{action}",
                                           json=payload or {}, timeout=10)
        response.raise_for_status()
        return response.json()

    def status(self) -> dict:
        """The call's state: status, display, transcript, in_queue, position, connected_to, awaiting_input."""
        response = self.phone.session.get(f"{self.phone.base_url}/phone/api/calls/{self.sid}", timeout=10)
        response.raise_for_status()
        return response.json()

    def transcript(self) -> list[str]:
        """What the caller has heard so far (IVR and system lines, not the caller's own)."""
        return [line["text"] for line in self.status()["transcript"] if line["who"] != "caller"]

    def wait_for(self, text: str, timeout: float = 10) -> str:
        """Wait until the caller hears a line containing `text`; return that line."""
        deadline = time.monotonic() + timeout
        while True:
            state = self.status()
            for line in state["transcript"]:
                if line["who"] != "caller" and text in line["text"]:
                    return line["text"]
            if time.monotonic() > deadline:
                heard = [line["text"] for line in state["transcript"]]
                raise PhoneTimeout(f"{text!r} not heard within {timeout}s (status {state['display']}); "
                                   f"heard: {heard}; errors: {state['errors']}")
            time.sleep(POLL_SECONDS)

    def wait_for_status(self, status: str, timeout: float = 10) -> dict:
        """Wait until the call's status (or its display text) is `status`; 'ended' matches any end."""
        deadline = time.monotonic() + timeout
        while True:
            state = self.status()
            if state["status"] == status or state["display"] == status or (
                    status == "ended" and state["status"] in TERMINAL):
                return state
            if time.monotonic() > deadline:
                raise PhoneTimeout(f"status {status!r} not reached within {timeout}s; it is {state['display']!r}")
            time.sleep(POLL_SECONDS)

    def wait_until(self, predicate, timeout: float = 10) -> dict:
        """Wait until `predicate(status_dict)` is true."""
        deadline = time.monotonic() + timeout
        while True:
            state = self.status()
            if predicate(state):
                return state
            if time.monotonic() > deadline:
                raise PhoneTimeout(f"condition not met within {timeout}s; state {state['display']!r}")
            time.sleep(POLL_SECONDS)

    def press(self, digits: str) -> dict:
        """Press keys on the keypad."""
        return self._post("digits", {"digits": digits})

    def say(self, speech_text: str) -> dict:
        """Speak: a speech Gather receives it as SpeechResult; a Record records it."""
        return self._post("speech", {"text": speech_text})

    def hang_up(self) -> dict:
        return self._post("hangup")

    def answer(self) -> dict:
        """Answer this call (one that rings the softphone)."""
        return self._post("answer")

    def decline(self) -> dict:
        return self._post("decline")


class PhoneClient:
    """Drives the emulator's softphone over HTTP."""

    def __init__(self, base_url: str):
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()

    def close(self) -> None:
        self.session.close()

    def dial(self, from_: str, to: str) -> PhoneCall:
        """Call `to` from a softphone whose number is `from_`."""
        response = self.session.post(f"{self.base_url}/phone/api/calls", json={"from": from_, "to": to},
                                     timeout=10)
        response.raise_for_status()
        return PhoneCall(self, response.json()["sid"])

    def incoming(self, number: str, timeout: float = 10) -> PhoneCall:
        """Wait for a call ringing the softphone with `number`; answer it with `.answer()`."""
        deadline = time.monotonic() + timeout
        while True:
            response = self.session.get(f"{self.base_url}/phone/api/incoming", params={"number": number},
                                        timeout=10)
            response.raise_for_status()
            calls = response.json()["calls"]
            if calls:
                return PhoneCall(self, calls[0]["sid"])
            if time.monotonic() > deadline:
                raise PhoneTimeout(f"no call rang within {timeout}s")
            time.sleep(POLL_SECONDS)

    def inbox(self, number: str) -> list[dict]:
        """Text messages received by `number`: dicts with sid, from, to, body, status."""
        response = self.session.get(f"{self.base_url}/phone/api/inbox", params={"number": number}, timeout=10)
        response.raise_for_status()
        return response.json()["messages"]

    def wait_for_sms(self, number: str, text: str = "", timeout: float = 10) -> dict:
        """Wait until `number` receives a message containing `text`."""
        deadline = time.monotonic() + timeout
        while True:
            for message in self.inbox(number):
                if text in message["body"]:
                    return message
            if time.monotonic() > deadline:
                raise PhoneTimeout(f"no message containing {text!r} within {timeout}s")
            time.sleep(POLL_SECONDS)

    def text(self, from_: str, to: str, body: str) -> str:
        """Send a text message from a softphone to one of the emulator's numbers; return its sid."""
        response = self.session.post(f"{self.base_url}/phone/api/messages",
                                     json={"from": from_, "to": to, "body": body}, timeout=10)
        response.raise_for_status()
        return response.json()["sid"]


class DeviceClient:
    """An agent's browser audio device, over the emulator's /device/api, as the console's device drives it.

        device = DeviceClient("http://127.0.0.1:5001", access_token)
        device.register()
        device.answer(call_id)   # accept the leg the app dialled for that call
    """

    def __init__(self, base_url: str, token: str):
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"
        self.identity: str | None = None

    def close(self) -> None:
        self.session.close()

    def _call(self, method: str, path: str, payload: dict | None = None) -> dict:
        response = self.session.request(method, f"{self.base_url}/device/api/{path}", json=payload, timeout=10)
        response.raise_for_status()
        return response.json()

    def register(self) -> str:
        self.identity = self._call("POST", "register", {})["identity"]
        return self.identity

    def unregister(self) -> None:
        self._call("POST", "unregister", {})

    def incoming(self) -> list[dict]:
        """Legs ringing this device, not yet answered."""
        return self._call("GET", "incoming")["calls"]

    def leg(self, sid: str) -> dict:
        return self._call("GET", f"calls/{sid}")

    def accept(self, sid: str) -> dict:
        return self._call("POST", f"calls/{sid}/accept", {})

    def reject(self, sid: str) -> dict:
        return self._call("POST", f"calls/{sid}/reject", {})

    def disconnect(self, sid: str) -> dict:
        return self._call("POST", f"calls/{sid}/disconnect", {})

    def answer(self, call_id: int, timeout: float = 10, stop=None) -> dict | None:
        """Wait for the leg carrying the app's `call_id` and accept it; None if it did not ring in time."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not (stop is not None and stop.is_set()):
            for leg in self.incoming():
                if leg["parameters"].get("call_id") == str(call_id):
                    return self.accept(leg["sid"])
            time.sleep(POLL_SECONDS * 4)
        return None
