"""Throttling of failed API keys per client address.

After LIMIT failed keys from one address within WINDOW seconds, that address gets 429 (with
Retry-After, in the error shape) for every key it has not already used successfully, until
its oldest failure in the window expires. Keys are 256 random bits, so guessing one is hopeless
anyway; this keeps a guesser from loading the database and the logs, and makes probing visible.

The counts live in the memory of each service process (several uvicorn workers each count
their own, so the real limit is LIMIT times the workers), and are lost on restart: enough
for the purpose, with no shared store to run. Behind a reverse proxy the client address is
the proxy's unless uvicorn is told to trust its X-Forwarded-For (--forwarded-allow-ips): then
all clients behind it share one allowance."""
from __future__ import annotations

import math
import threading
import time
from collections import deque

LIMIT = 10
WINDOW_SECONDS = 60.0
MAX_ADDRESSES = 10_000  # bound the memory a flood of addresses can take


class FailedKeyThrottle:
    def __init__(self, limit: int = LIMIT, window: float = WINDOW_SECONDS, clock=time.monotonic):
        self.limit, self.window, self.clock = limit, window, clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, address: str, now: float) -> deque[float] | None:
        times = self._failures.get(address)
        if times is None:
            return None
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self._failures[address]
            return None
        return times

    def retry_after(self, address: str) -> int | None:
        """Seconds until this address may try a key again, or None when it may now."""
        with self._lock:
            now = self.clock()
            times = self._recent(address, now)
            if times is None or len(times) < self.limit:
                return None
            return max(1, math.ceil(times[0] + self.window - now))

    def failed(self, address: str) -> None:
        with self._lock:
            now = self.clock()
            times = self._recent(address, now)
            if times is None:
                if len(self._failures) >= MAX_ADDRESSES:
                    self._failures.clear()
                times = self._failures[address] = deque()
            times.append(now)


def throttle_of(app) -> FailedKeyThrottle:
    """The app's throttle (one per app, created on first use)."""
    throttle = getattr(app.state, "key_throttle", None)
    if throttle is None:
        throttle = app.state.key_throttle = FailedKeyThrottle()
    return throttle


def client_address(request) -> str:
    return request.client.host if request.client else "unknown"
