"""When a turn's provider may leave its upstream unread (`tap.py`): the output check's side.

Nothing held goes out before its deadline but a sentence end or a full window. So at each
pushed piece that leaves words held, the provider may rest until they are due (`held`), and
as soon as held words went out at their deadline it is asked to rest at once until the text
that comes next would be due (`went_out`). Neither rest runs past the time a window takes to
fill at the pace the turn's text came so far, so a fast model's text is never held back
waiting to be read. Text read after a rest may have waited since it began: `arrived` says so
to `Windows.feed`, so it never waits longer for having been read late.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .tap import Tap
    from .windows import Windows


class Rests:
    """One turn's rests, for its output check (`tap`: the top tap; None: no rests)."""

    def __init__(self, tap: Tap | None, windows: Windows, window_chars: int) -> None:
        self._tap = tap
        self._windows = windows
        self._window_chars = window_chars
        self._fed = 0  # characters fed so far
        self._first_fed = 0.0  # when the turn's first text was fed
        self._rest_from = 0.0  # when the provider was last told it may rest
        self._unread_since: float | None = None  # the next text may have waited since then

    def arrived(self, now: float, chars: int) -> float | None:
        """Text of `chars` characters is fed at `now`: the earliest it may have reached the
        server (None: now)."""
        if not self._fed:
            self._first_fed = now
        self._fed += chars
        arrived, self._unread_since = self._unread_since, None
        return arrived

    def held(self, now: float) -> None:
        """A pushed piece was fed and closed no window: the provider may rest until the words
        held are due (`Tap.rest`)."""
        if self._tap is not None and (until := self._windows.held_due) is not None:
            self._tap.rest_s, self._rest_from = min(until - now, self._fills_in(now)), now

    def went_out(self, now: float) -> None:
        """Held words went out at their deadline: the provider rests until the next are due
        (`Tap.rest_now`), unless it still rests from before (the loop ran late: what it reads
        next may have waited since that rest began)."""
        tap = self._tap
        if tap is None:
            return
        if tap.resting:
            self._unread_since = self._rest_from
        elif tap.rest_now is not None:
            rest = min(self._windows.due_from(now) - now, self._fills_in(now))
            if rest > 0 and tap.rest_now(rest):
                self._rest_from = self._unread_since = now

    def _fills_in(self, now: float) -> float:
        """How long until the text held reaches a window's size, at the pace of the turn's
        text so far."""
        room = self._window_chars - len(self._windows.held)
        return room * (now - self._first_fed) / self._fed if self._fed else 0.0
