"""The one seam for tests that do not run the emulator: the Twilio client's HTTP transport.

It records the exact REST requests the app sends and answers Twilio-shaped JSON.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from urllib.parse import parse_qsl

from twilio.http import HttpClient
from twilio.http.response import Response


class RecordingHttpClient(HttpClient):
    def __init__(self):
        super().__init__(logging.getLogger("tests.twilio"), False)
        self.requests: list[dict] = []
        self.fail_with: int | None = None
        self.status_for_fetch = "in-progress"  # what a GET of a call answers
        self.recordings: dict[str, list[dict]] = {}  # CallSid -> the Recording resources Twilio holds
        self.calls: list[dict] = []  # the Call resources a list of the account's calls answers
        self.deleted_before: set[str] = set()  # recordings already gone at Twilio (a DELETE answers 404)

    def request(self, method, url, params=None, data=None, headers=None, auth=None, timeout=None,
                allow_redirects=False):
        form = dict(parse_qsl(data, keep_blank_values=True)) if isinstance(data, str) else dict(data or {})
        self.requests.append({"method": method, "url": url, "data": form, "params": dict(params or {}), "auth": auth})
        if self.fail_with:
            body = {"code": 21220, "message": "Call is not in-progress. Cannot redirect.",
                    "more_info": "https://www.twilio.com/docs/errors/21220", "status": self.fail_with}
            return Response(self.fail_with, json.dumps(body))
        if method == "GET" and url.endswith("/Recordings.json"):
            found = self.recordings.get((params or {}).get("CallSid"), [])
            return Response(200, json.dumps({"recordings": found, "next_page_uri": None, "page": 0,
                                             "page_size": 50, "start": 0, "end": max(0, len(found) - 1),
                                             "uri": url}))
        if method == "DELETE":
            sid = url.rstrip("/").rsplit("/", 1)[-1].removesuffix(".json")
            if sid in self.deleted_before:
                return Response(404, json.dumps({"code": 20404, "message": "not found", "status": 404}))
            return Response(204, "")
        if method == "GET" and url.endswith("/Calls.json"):
            return Response(200, json.dumps({"calls": self.calls, "next_page_uri": None, "page": 0,
                                             "page_size": 1000, "start": 0, "end": max(0, len(self.calls) - 1),
                                             "uri": url}))
        sid_match = re.search(r"/Calls/(CA\w+)\.json$", url)
        if sid_match:
            sid = sid_match.group(1)
        elif url.endswith("/Messages.json"):
            sid = "SM" + uuid.uuid4().hex
        else:
            sid = "CA" + uuid.uuid4().hex
        status = self.status_for_fetch if method == "GET" else form.get("Status", "queued")
        body = {"sid": sid, "status": status, "to": form.get("To"), "from": form.get("From")}
        return Response(201 if method == "POST" and not sid_match else 200, json.dumps(body))
