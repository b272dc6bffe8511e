"""Coalesces concurrent single-matter requests into one vectorised `screen_many` call.

The learned model costs far more per call than per matter (one call of 1 matter ≈ one call
of 10), so under load screening each request on its own would spend the CPU on overhead.
No request waits for a batch to fill: a call that finds the screener idle runs at once; the
requests that arrive while it runs form the next batch. One lone request therefore sees
the plain single-matter latency, and a hundred concurrent ones share a few calls.

The batch runs on the event loop itself, not in a thread: the work is CPU-bound under the
GIL, and a screening thread would make every GIL-releasing call of the loop (socket writes,
os.urandom …) wait up to a switch interval (5 ms) to get the GIL back. Between two batches the
loop runs once, reading every request that arrived meanwhile. More CPU cores are used by
running more uvicorn worker processes."""
from __future__ import annotations

import asyncio
import logging

from model.contract import MatterIn
from model.screener import Screener
from model.vocab import unknown_profile


log = logging.getLogger("decision_screen.batcher")


class ScreenBatcher:
    def __init__(self, screener: Screener, max_batch: int = 64, yield_rounds: int = 16):
        self.screener = screener
        self.max_batch, self.yield_rounds = max_batch, yield_rounds
        self._pending: list[tuple[MatterIn, asyncio.Future]] = []
        self._running = False
        self._names = set(screener.rulebooks.names())

    async def screen(self, matter: MatterIn):
        # Checked here so that one caller's bad input can never fail a whole shared batch.
        if matter.profile is not None and matter.profile not in self._names:
            raise unknown_profile(matter.profile, self._names)
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        self._pending.append((matter, fut))
        if not self._running:
            self._running = True
            loop.create_task(self._drain())
        return await fut

    async def _drain(self) -> None:
        try:
            while self._pending:
                # Let the loop run a few rounds first: a request needs several of them (read, route,
                # check the key, validate) to get from the socket to here, and each round a batch
                # holds the loop up would add a whole batch's time to its latency. Rounds with
                # nothing to do cost microseconds.
                for _ in range(self.yield_rounds):
                    await asyncio.sleep(0)
                batch, self._pending = self._pending[:self.max_batch], self._pending[self.max_batch:]
                results = self._run([m for m, _ in batch])
                for (_, fut), res in zip(batch, results):
                    if fut.done():  # the client went away
                        continue
                    if isinstance(res, BaseException):
                        fut.set_exception(res)
                    else:
                        fut.set_result(res)
        finally:
            self._running = False

    def _run(self, matters: list[MatterIn]) -> list:
        try:
            return list(self.screener.screen_many(matters))
        except Exception:
            # Isolate the failing matter: the others still get their answers.
            out = []
            for m in matters:
                try:
                    out.append(self.screener.screen(m))
                except Exception as exc:
                    out.append(exc)
            return out

    def close(self) -> None:
        """Nothing to release: kept so the context can stop every part the same way."""
