"""Calls that arrive while earlier ones are out, made together as one.

The door's busiest statement commits once per scan: a transaction, a WAL
flush and a round trip each, which on a small machine cost PostgreSQL more
CPU than the statement's own work. :class:`Gathered` runs a batch function
for the callers that queued up meanwhile, so that at a door rush one
statement (and one commit) serves many scans, and at a quiet door each call
goes out at once, alone: nothing waits for a timer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class Gathered(Generic[Item, Result]):
    """``await gathered(item)`` gives ``run([..., item, ...])``'s result for ``item``.

    At most ``in_flight`` batches run at once and each takes at most ``size``
    items, in the order they came. A call made while fewer than ``in_flight``
    batches run starts one at once; the others wait in line, and the line goes
    out as the next batch as soon as one finishes. ``run`` gives one result
    per item, in order; if it raises, every caller of that batch gets the error.
    A caller who stops waiting (cancelled) does not stop its batch.
    """

    def __init__(
        self,
        run: Callable[[Sequence[Item]], Awaitable[Sequence[Result]]],
        *,
        size: int = 64,
        in_flight: int = 1,
    ) -> None:
        self._run = run
        self._size = size
        self._in_flight = in_flight
        self._flying = 0
        self._line: list[tuple[Item, asyncio.Future[Result]]] = []
        self._batches: set[asyncio.Task[None]] = set()  # held, so none is collected mid-run

    async def __call__(self, item: Item) -> Result:
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._line.append((item, future))
        self._launch()
        return await future

    def _launch(self) -> None:
        while self._line and self._flying < self._in_flight:
            batch, self._line = self._line[: self._size], self._line[self._size :]
            self._flying += 1
            task = asyncio.get_running_loop().create_task(self._batch(batch))
            self._batches.add(task)
            task.add_done_callback(self._batches.discard)

    async def _batch(self, batch: list[tuple[Item, asyncio.Future[Result]]]) -> None:
        try:
            results = await self._run([item for item, _ in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"{len(results)} results for a batch of {len(batch)}")
        except Exception as error:  # each caller of the batch hears it
            for _, future in batch:
                if not future.done():
                    future.set_exception(error)
        except BaseException:  # the batch itself was cancelled (shutting down): so are its calls
            for _, future in batch:
                future.cancel()
            raise
        else:
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)
        finally:
            self._flying -= 1
            self._launch()
