"""The turn log port: the events of running turns, for every stream that follows them.

A turn's producer appends its events; followers (the caller, a client that resumed the turn,
watchers of the session) read them from any seq, on this server or, with a shared adapter,
on any server of the deployment. The producer holds a lease while it runs: when it dies, a
follower finds the lease expired and may take the turn over from the last recorded seq.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from .models import TurnEvent, TurnKind
    from .turnbuffer import TurnBuffer


@dataclass(frozen=True)
class TurnInfo:
    """What a watcher learns when a turn starts."""

    session_id: str
    turn_id: str
    kind: TurnKind
    input: str
    # Started with a client turn id: a follower may take it over when its server dies. (A turn
    # without one lives and dies with its caller's stream.)
    resumable: bool = True


class TurnClaimed(Exception):
    """Another call (on this server or another) already produces a turn with this id."""


class ProducerLost(Exception):
    """The turn has no live producer (its server died) and did not end: `events` is what was
    recorded; the follower may take the turn over."""

    def __init__(self, events: tuple[TurnEvent, ...]) -> None:
        self.events = events
        super().__init__("the turn's producer is gone")


class TurnWriter(Protocol):
    """The producing side of one turn. `buffer` holds its events; appending to it never waits
    on I/O (a shared log copies sealed events out in the background)."""

    buffer: TurnBuffer

    # True once the lease was lost (another server took the turn over): stop producing.
    lost: bool

    async def followed_elsewhere(self) -> bool:
        """Whether a follower on another server still reads this turn."""

    async def held(self) -> bool:
        """Renews the lease just before the ended turn is stored: False when another server
        took the turn over (that server stores it; this one must not). A shared log that
        cannot be reached answers True: a finished turn is never dropped for coordination
        trouble."""

    async def finish(self) -> None:
        """The turn ended (its last event is in the buffer): flush, keep the events for the
        resume window, release the lease and the turn's slot."""


class TurnLog(Protocol):
    """Running turns by (session, turn id). The in-process adapter is the embedded default."""

    async def start(self, info: TurnInfo, max_running: int) -> TurnWriter:
        """Produce a new turn: its slot (Overloaded past `max_running` running turns across
        the deployment), its lease, its buffer. Watchers of the session learn of it. Raises
        `TurnClaimed` when the turn already has a producer."""

    def follow(self, session_id: str, turn_id: str) -> AsyncIterator[TurnEvent]:
        """The turn's events from the first. Ends after its terminal event, raises the error
        it ended with, or `ProducerLost`. Raises `LookupError` when the log does not know it."""

    async def take_over(self, session_id: str, turn_id: str) -> TurnWriter | None:
        """Claims production of a turn whose producer is lost; the writer's buffer holds the
        recorded events. None when another server claimed it first or nothing is recorded."""

    def watch(self, session_id: str) -> AsyncIterator[TurnInfo | SessionClosed]:
        """The turns of a session: those running now, then each as it starts, until the
        caller stops reading; `SessionClosed` when the session is deleted."""

    async def close_session(self, session_id: str) -> None:
        """The session was deleted: its watchers (on every server) stop."""

    async def check(self) -> None:
        """Raises `CoordinationUnavailable` while a shared log cannot be reached (health)."""

    async def alive(self, session_id: str, turn_id: str) -> bool:
        """Whether the turn has a live producer (or a recorded log a follower could take
        over)."""

    @property
    def running(self) -> int:
        """Turns produced by this server now."""

    async def close(self) -> None:
        """Release connections; running turns must have finished."""


@dataclass(frozen=True)
class SessionClosed:
    """Sent to a session's watchers when the session is deleted."""

    session_id: str
