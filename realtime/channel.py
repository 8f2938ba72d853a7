"""Per-channel sequence numbers and the replay buffer, Sans-I/O.

A :class:`ChannelLog` either *assigns* numbers (the in-memory broker: it is the
source of truth) or *records* numbers given elsewhere (a Redis stream). Either
way it keeps the last ``size`` events, so that a client resuming with
``since=k`` gets exactly events ``k+1..last`` or is told they are gone
(``None``), never a partial list.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from realtime.protocol import Event


@dataclass(frozen=True, slots=True)
class Stamped:
    seq: int
    event: Event


class ChannelLog:
    """Sequence numbers and the most recent events of one channel."""

    def __init__(self, size: int = 2048, last_seq: int = 0) -> None:
        self._events: deque[Stamped] = deque(maxlen=size)
        self.last_seq = last_seq

    def append(self, event: Event) -> Stamped:
        """Give ``event`` the next number and keep it."""
        stamped = Stamped(self.last_seq + 1, event)
        self._keep(stamped)
        return stamped

    def record(self, stamped: Stamped) -> bool:
        """Keep an event numbered elsewhere; False (and ignored) if already seen.

        A jump forward (events this node never saw) empties the buffer, so that
        a later :meth:`since` cannot answer with a list that has a hole in it.
        """
        if stamped.seq <= self.last_seq:
            return False
        if stamped.seq != self.last_seq + 1:
            self._events.clear()
        self._keep(stamped)
        return True

    def _keep(self, stamped: Stamped) -> None:
        self._events.append(stamped)
        self.last_seq = stamped.seq

    def since(self, seq: int) -> list[Stamped] | None:
        """Events after ``seq``, or None when some of them are no longer held."""
        if seq == self.last_seq:
            return []
        if seq > self.last_seq or seq < 0:
            return None
        if not self._events or self._events[0].seq > seq + 1:
            return None
        start = seq + 1 - self._events[0].seq
        return [self._events[i] for i in range(start, len(self._events))]
