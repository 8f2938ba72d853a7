"""Coalescing of counts, Sans-I/O, with an injected clock.

Vote counts, poll results and presence change far more often than anyone can
read. A :class:`Coalescer` keeps only the newest value per key (newest by a
version that the database raised with the change, so an older value that
arrives late never overwrites a newer one) and lets them out at most once per
``interval``. Convergence: the newest value offered is always let out by a
later :meth:`take`, so clients end on the exact counts.
"""

from __future__ import annotations

from typing import Any


class Coalescer:
    """Newest value per key, released at most once per ``interval`` seconds."""

    def __init__(self, interval: float = 0.1) -> None:
        self.interval = interval
        self._latest: dict[str, tuple[int, Any]] = {}
        self._dirty: set[str] = set()
        self._last_take = float("-inf")

    def offer(self, key: str, version: int, value: Any) -> bool:
        """Keep ``value`` if it is newer than what is held; True if it was kept."""
        held = self._latest.get(key)
        if held is not None and held[0] >= version:
            return False
        self._latest[key] = (version, value)
        self._dirty.add(key)
        return True

    def again(self, taken: dict[str, tuple[int, Any]]) -> None:
        """Let ``taken`` out again at a later take (publishing it failed); a key
        offered a newer value since is let out with that one instead."""
        for key, (version, _) in taken.items():
            held = self._latest.get(key)
            if held is not None and held[0] == version:
                self._dirty.add(key)

    def due(self, now: float) -> bool:
        return bool(self._dirty) and now - self._last_take >= self.interval

    def take(self, now: float) -> dict[str, tuple[int, Any]]:
        """The changed values, if the interval has passed since the last take."""
        if not self.due(now):
            return {}
        self._last_take = now
        out = {key: self._latest[key] for key in sorted(self._dirty)}
        self._dirty.clear()
        return out
