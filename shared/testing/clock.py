"""A clock tests set by hand: services take it as their ``clock`` and read ``now`` from it."""

from __future__ import annotations

from datetime import datetime


class FakeClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


__all__ = ["FakeClock"]
