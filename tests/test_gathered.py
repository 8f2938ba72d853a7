"""Calls gathered into batches (``festival.gathered``): what each caller gets back."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from festival.gathered import Gathered


class Recorder:
    """A batch function that records its batches and waits for a go each time."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.go = asyncio.Event()

    async def __call__(self, items: Sequence[int]) -> list[int]:
        self.batches.append(list(items))
        await self.go.wait()
        if -1 in items:
            raise ValueError("no negative items")
        return [item * 10 for item in items]


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_lone_call_goes_out_at_once_and_later_calls_go_together_in_order() -> None:
    run = Recorder()
    gathered: Gathered[int, int] = Gathered(run, size=64, in_flight=1)
    first = asyncio.create_task(gathered(1))
    await _settle()
    assert run.batches == [[1]]  # not held back for company
    rest = [asyncio.create_task(gathered(n)) for n in range(2, 7)]
    await _settle()
    assert run.batches == [[1]]  # one batch in flight: the others wait in line
    run.go.set()
    assert await first == 10
    assert [await task for task in rest] == [20, 30, 40, 50, 60]
    assert run.batches == [[1], [2, 3, 4, 5, 6]]


async def test_batches_hold_at_most_size_items_and_at_most_in_flight_run_at_once() -> None:
    run = Recorder()
    gathered: Gathered[int, int] = Gathered(run, size=3, in_flight=2)
    tasks = [asyncio.create_task(gathered(n)) for n in range(8)]
    await _settle()
    assert run.batches == [[0], [1]]  # two go out at once, alone; the rest wait
    run.go.set()
    assert [await task for task in tasks] == [n * 10 for n in range(8)]
    assert run.batches == [[0], [1], [2, 3, 4], [5, 6, 7]]


async def test_an_error_reaches_every_caller_of_its_batch_and_no_other() -> None:
    run = Recorder()
    gathered: Gathered[int, int] = Gathered(run, size=2, in_flight=1)
    tasks = [asyncio.create_task(gathered(n)) for n in (0, 1, -1, 3, 4)]
    run.go.set()
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    assert run.batches == [[0], [1, -1], [3, 4]]
    assert outcomes[0] == 0
    assert outcomes[3:] == [30, 40]
    assert all(isinstance(o, ValueError) for o in outcomes[1:3])


async def test_a_caller_who_stops_waiting_does_not_stop_its_batch() -> None:
    run = Recorder()
    gathered: Gathered[int, int] = Gathered(run, size=8, in_flight=1)
    first = asyncio.create_task(gathered(1))
    await _settle()
    gone, stays = asyncio.create_task(gathered(2)), asyncio.create_task(gathered(3))
    await _settle()
    gone.cancel()
    run.go.set()
    assert (await first, await stays) == (10, 30)
    with pytest.raises(asyncio.CancelledError):
        await gone
    assert run.batches == [[1], [2, 3]]  # the batch ran, the cancelled item in it


async def test_a_batch_that_gives_the_wrong_number_of_results_fails_its_callers() -> None:
    async def short(items: Sequence[int]) -> list[int]:
        return list(items)[:-1]

    gathered: Gathered[int, int] = Gathered(short)
    with pytest.raises(RuntimeError, match="0 results for a batch of 1"):
        await gathered(1)
