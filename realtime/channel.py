"""Per-channel sequence numbers and the replay buffer, Sans-I/O.

A :class:`ChannelLog` either *assigns* numbers (the in-memory broker: it is the
source of truth) or *records* numbers given elsewhere (a Redis stream). Either
way it keeps the last ``size`` events, so that a client resuming with
``since=k`` gets exactly events ``k+1..last`` or is told they are gone
(``None``), never a partial list.

Numbering comes in *epochs*. An epoch is named by its ``base``, the number
after which it counts (its first event is ``base + 1``), and a new epoch's base
is taken from the clock in microseconds (:func:`fresh_base`), so it lies above
every number an earlier epoch of the channel gave out (that would take over a
million events a second). A number below the current base is therefore always
from an older numbering: a client resuming with it gets a fresh snapshot, never
a list of events numbered in another epoch. A new epoch begins when the numbers
were lost (a Redis restarted without persistence, a process restarted with the
in-memory broker) or may have gone back (a Redis restored from an older
snapshot).
"""

from __future__ import annotations

import enum
import time
from collections import deque
from dataclasses import dataclass

from realtime.protocol import Event


def fresh_base(floor: int = 0) -> int:
    """The base of an epoch beginning now: microseconds since 1970, and above ``floor``."""
    return max(int(time.time() * 1_000_000), floor)


@dataclass(frozen=True, slots=True)
class Stamped:
    seq: int
    event: Event
    epoch: int = 0


class Recorded(enum.Enum):
    """What :meth:`ChannelLog.record` made of an event numbered elsewhere."""

    KEPT = "kept"  # the next number: deliver it
    SEEN = "seen"  # at or below the last number: already delivered, or from an older epoch
    GAP = "gap"  # kept, but numbers before it never came: the sockets missed something
    RESTARTED = "restarted"  # kept, the first seen of a new epoch: the sockets missed the switch


class ChannelLog:
    """Sequence numbers and the most recent events of one channel, in one epoch."""

    def __init__(self, size: int = 2048, last_seq: int = 0, base: int = 0) -> None:
        self._events: deque[Stamped] = deque(maxlen=size)
        self.base = base
        self.last_seq = max(last_seq, base)

    def append(self, event: Event) -> Stamped:
        """Give ``event`` the next number and keep it."""
        stamped = Stamped(self.last_seq + 1, event, self.base)
        self._keep(stamped)
        return stamped

    def record(self, stamped: Stamped) -> Recorded:
        """Keep an event numbered elsewhere, and say whether the sockets can simply get it.

        A number at or below the last one is ignored (numbers only grow, across
        epochs too). An event of another epoch starts that epoch here; a jump
        forward in this one is a gap. Either way the buffer is emptied, so that a
        later :meth:`since` cannot answer with a list that has a hole in it, and
        the caller must bring its sockets back to the truth (a snapshot).
        """
        if stamped.seq <= self.last_seq:
            return Recorded.SEEN
        outcome = Recorded.KEPT
        if stamped.epoch != self.base:
            self.base = stamped.epoch
            outcome = Recorded.RESTARTED
        elif stamped.seq != self.last_seq + 1:
            outcome = Recorded.GAP
        if outcome is not Recorded.KEPT:
            self._events.clear()
        self._keep(stamped)
        return outcome

    def restart(self, base: int, last_seq: int) -> None:
        """Begin epoch ``base`` at ``last_seq``, holding nothing of the one before."""
        self._events.clear()
        self.base = base
        self.last_seq = max(base, last_seq)

    def _keep(self, stamped: Stamped) -> None:
        self._events.append(stamped)
        self.last_seq = stamped.seq

    def since(self, seq: int) -> list[Stamped] | None:
        """Events after ``seq``, or None when some of them are no longer held
        (or ``seq`` is of another epoch: below the base, or beyond the last)."""
        if seq == self.last_seq:
            return []
        if seq > self.last_seq or seq < self.base or seq < 0:
            return None
        if not self._events or self._events[0].seq > seq + 1:
            return None
        start = seq + 1 - self._events[0].seq
        return [self._events[i] for i in range(start, len(self._events))]
