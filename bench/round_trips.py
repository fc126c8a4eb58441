"""Counting the requests a redis-py client writes to the server, i.e. its round trips."""

from __future__ import annotations

from redis import Redis
from redis.connection import Connection


class RoundTrips:
    """A running count; read it before and after an operation."""

    def __init__(self):
        self.count = 0


class CountingConnection(Connection):
    """A connection that counts each packed send: one per command, one per pipeline, one per script call.

    redis-py writes each request with one `send_packed_command` and then reads its reply(ies), so the
    count of sends is the count of round trips. Subclassed per client so each has its own counter.
    """

    round_trips: RoundTrips

    def send_packed_command(self, command, check_health=True):
        type(self).round_trips.count += 1
        super().send_packed_command(command, check_health)


def counting_redis(url: str) -> tuple[Redis, RoundTrips]:
    """A Redis client for `url` and the counter of its round trips."""
    counter = RoundTrips()
    connection_class = type("CountingConnection", (CountingConnection,), {"round_trips": counter})
    client = Redis.from_url(url, connection_class=connection_class)
    client.ping()  # connect now, so the handshake is not counted against the first operation
    return client, counter
