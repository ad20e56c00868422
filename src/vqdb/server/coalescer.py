"""Concurrent searches of one collection answered by one engine call.

A search that finds other requests in flight on its event loop waits one turn of the loop, so
that the searches of the same collection read in that turn (their bodies came while the last
search ran) can join it; the first then runs them all as one call (`Operation.together`, e.g.
query.query_each: one native search over all their vectors) and hands each its own answer or
failure. Alone on its loop, a request runs at once, as any read: nothing waits for company
that cannot come.

Why: under the GIL, one request's Python runs at a time, and every native search hands the GIL
from one loop's thread to another's and back. Gathered, the requests of a loop make one native
call and one handoff. Measured in docs/ARCHITECTURE.md (The HTTP server).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

from vqdb.server import loops

Run = Callable[[Callable[[Any], Any], Any], Awaitable[Any]]


class Coalescer:
    def __init__(self) -> None:
        # the requests that joined a first one, by (loop, key): each loop's thread alone
        # touches its own entries
        self._joined: dict[tuple[asyncio.AbstractEventLoop, Hashable], list[Joined]] = {}

    async def answer(
        self,
        key: Hashable,
        call: Any,
        alone: Callable[[Any], Any],
        together: Callable[[list[Any]], list[Any]],
        run: Run,
    ) -> Any:
        """`call`'s answer: alone(call), or its part of together([call, ...]) with the calls of
        the same `key` read in this turn of the loop (an answer or an exception for each).
        `run(f, arg)` runs f(arg) where reads run (on the loop or in the reader pool)."""
        if not loops.others_in_flight():
            return await run(alone, call)
        loop = asyncio.get_running_loop()
        place = (loop, key)
        joined = self._joined.get(place)
        if joined is not None:  # a first request is gathering, this turn: join it
            one = Joined(call, loop.create_future())
            joined.append(one)
            return await one.future
        joined = self._joined[place] = []
        try:
            await asyncio.sleep(0)  # the requests read in this turn reach here meanwhile
        finally:  # closed: a request that comes later starts a gathering of its own
            del self._joined[place]
        try:
            if not joined:
                return await run(alone, call)
            answers = await run(together, [call, *(one.call for one in joined)])
        except BaseException as e:  # those who joined must not wait forever
            for one in joined:
                one.settle(e if isinstance(e, Exception) else asyncio.CancelledError())
            raise
        for one, answer in zip(joined, answers[1:]):
            one.settle(answer)
        if isinstance(answers[0], Exception):
            raise answers[0]
        return answers[0]


class Joined:
    __slots__ = ("call", "future")

    def __init__(self, call: Any, future: asyncio.Future[Any]) -> None:
        self.call = call
        self.future = future

    def settle(self, answer: Any) -> None:
        """Its answer, or its failure where the answer is an exception."""
        if self.future.done():  # cancelled meanwhile
            return
        if isinstance(answer, BaseException):
            self.future.set_exception(answer)
        else:
            self.future.set_result(answer)
