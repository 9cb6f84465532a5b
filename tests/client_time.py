"""Time for the reference-client tests: the client's clock kept in step with a tenant's
frozen virtual clock, and an injected ``sleep`` that records its waits (and, given a
clock, lets that time pass on both sides instead of sleeping)."""

from __future__ import annotations

from emulator.testing import Admin

START = 1_800_000_000.0  # Fri 2027-01-15 08:00 UTC; a multiple of 10 and 60: quota windows align


class TestClock:
    """The client's clock, kept in step with the tenant's frozen virtual clock."""

    __test__ = False

    def __init__(self, admin: Admin, start: float = START) -> None:
        self.admin = admin
        admin.freeze(start)
        self.t = start

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float, server: bool = True, client: bool = True) -> None:
        if server:
            self.admin.advance(seconds)
        if client:
            self.t += seconds


class Sleeps(list):
    """An injected ``sleep``: records each wait; with a clock, lets the time pass (on
    the emulator through the admin API, and on the client's clock)."""

    def __init__(self, clock: TestClock | None = None) -> None:
        super().__init__()
        self.clock = clock

    def __call__(self, seconds: float) -> None:
        self.append(seconds)
        if self.clock is not None:
            self.clock.advance(seconds)
